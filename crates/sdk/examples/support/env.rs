//! What every example needs before it starts: the server and keys in the environment.

/// Exits with a sentence naming the missing variables unless the server's origin and both
/// keys are set (to non-empty values).
pub fn require_server_env(example: &str) {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let mut missing = Vec::new();
    if !set("DD_API_KEY") {
        missing.push("DD_API_KEY");
    }
    if !set("DD_APP_KEY") && !set("DD_APPLICATION_KEY") {
        missing.push("DD_APP_KEY");
    }
    if !set("DD_LLMOBS_OVERRIDE_ORIGIN") {
        missing.push("DD_LLMOBS_OVERRIDE_ORIGIN");
    }
    if missing.is_empty() {
        return;
    }
    eprintln!(
        "The {example} example talks to a running llmobs server and needs {} set. Start one \
         with `llmobs serve` and paste the exports it prints (DD_API_KEY, DD_APP_KEY, \
         DD_LLMOBS_OVERRIDE_ORIGIN), or make a new key pair with \
         `llmobs keys create --org default`.",
        missing.join(", ")
    );
    std::process::exit(2);
}
