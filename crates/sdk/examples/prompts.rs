//! A tour of the prompt registry from Rust.
//!
//! Point it at a server (for example `llmobs serve`) with the usual variables:
//!
//! ```text
//! DD_LLMOBS_OVERRIDE_ORIGIN=http://127.0.0.1:7580 DD_API_KEY=… DD_APP_KEY=… \
//!     cargo run -p llmobs --example prompts
//! ```

#[path = "support/env.rs"]
mod support;

use std::error::Error;

use llmobs::{ChatItem, Client, ErrorKind, GetPrompt, NewPrompt, NewVersion, Template, Vars};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    support::require_server_env("prompts");
    let client = Client::from_env()?;

    // Create a chat prompt (or reuse it if an earlier run created it).
    let template = Template::Chat(vec![
        ChatItem::message("system", "You are a {{persona}}."),
        ChatItem::placeholder("history"),
        ChatItem::message("user", "{{question}}"),
    ]);
    match client
        .create_prompt(NewPrompt::new("example-assistant", template).title("Assistant"))
        .await
    {
        Ok(created) => println!("created {created} (uuid {})", created.uuid),
        Err(err) if err.kind() == ErrorKind::Conflict => println!("example-assistant exists"),
        Err(err) => return Err(err.into()),
    }

    // Fetch it: the first call asks the registry, the next ones are served from memory.
    let prompt = client.get_prompt("example-assistant").await?;
    println!("{} v{} from {}", prompt.id(), prompt.version(), prompt.source());
    let again = client.get_prompt("example-assistant").await?;
    println!("again from {}, {:?} old", again.source(), again.age().unwrap_or_default());

    // Render it. Text variables fill {{…}}; a placeholder takes a list of messages.
    let vars = Vars::new()
        .with("persona", "helpful librarian")
        .with("question", "Where are the maps?")
        .with("history", json!([{"role": "user", "content": "Hello"}]));
    println!("variables: {:?}", prompt.variables());
    println!("rendered: {}", prompt.format(&vars)?.to_value());
    println!("annotation: {}", serde_json::Value::Object(prompt.to_annotation(&vars)));

    // A new version, labelled, then fetched by label.
    let version = client
        .create_prompt_version(
            "example-assistant",
            NewVersion::new(Template::Text("Answer briefly: {question}".into())),
        )
        .await?;
    // Moves `production` to the new version; other labels stay where they are.
    let labelled = client.set_label("example-assistant", version.version, "production").await?;
    println!("{labelled}");
    let production =
        client.get_prompt_with("example-assistant", GetPrompt::new().label("production")).await?;
    println!("{production}: {}", production.format([("question", "Where are the maps?")])?);

    // A prompt that does not exist, with and without a fallback.
    let fallback = client
        .get_prompt_with("no-such-prompt", &GetPrompt::new().fallback("Hello {name}"))
        .await?;
    println!("fallback: {:?}", fallback.format([("name", "Ada")])?.as_text());
    if let Err(err) = client.get_prompt("no-such-prompt").await {
        println!("without a fallback: {err}");
    }

    for version in client.list_prompt_versions("example-assistant").await? {
        println!("version {} labels {:?}", version.version, version.labels);
    }
    Ok(())
}
