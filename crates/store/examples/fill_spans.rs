//! Fills a SQLite store with realistic LLM Observability spans for the spans search
//! benchmark (`bench/spans_search.sh`), through the store's own span intake (the write
//! path the server uses), without HTTP.
//!
//! `cargo run --release -p llmobs-store --example fill_spans -- DB_FILE COUNT API_KEY APP_KEY`
//!
//! Spans come in traces of four (workflow, retrieval, llm, tool) over 20 ML apps, spread
//! over the seven days before now, with questions and answers drawn from a fixed
//! vocabulary; one span in 10,000 mentions the rare word `zephyrine`. The generator is
//! seeded, so every run stores the same spans (only their times follow the clock).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use llmobs_store::{Database, Store};
use serde_json::json;
use serde_json::value::RawValue;

const WORDS: &[&str] = &[
    "order",
    "refund",
    "shipping",
    "account",
    "balance",
    "password",
    "invoice",
    "flight",
    "hotel",
    "booking",
    "cancel",
    "delivery",
    "address",
    "payment",
    "card",
    "subscription",
    "upgrade",
    "plan",
    "discount",
    "coupon",
    "warranty",
    "repair",
    "battery",
    "screen",
    "laptop",
    "phone",
    "charger",
    "return",
    "exchange",
    "size",
    "color",
    "shoes",
    "jacket",
    "weather",
    "forecast",
    "rain",
    "snow",
    "paris",
    "tokyo",
    "london",
    "berlin",
    "madrid",
    "rome",
    "vienna",
    "recipe",
    "pasta",
    "salad",
    "dinner",
    "breakfast",
    "coffee",
    "tea",
    "meeting",
    "calendar",
    "reminder",
    "email",
    "report",
    "summary",
    "translate",
    "spanish",
    "french",
    "german",
    "python",
    "error",
    "bug",
    "deploy",
    "server",
    "database",
    "query",
    "index",
    "latency",
    "timeout",
    "memory",
    "cpu",
    "disk",
    "network",
    "login",
    "logout",
    "profile",
    "settings",
    "privacy",
    "security",
    "fraud",
    "alert",
    "limit",
    "loan",
    "mortgage",
    "interest",
    "rate",
    "savings",
    "transfer",
    "deposit",
    "withdrawal",
    "tax",
    "receipt",
    "status",
    "tracking",
    "package",
    "store",
    "hours",
    "location",
    "contact",
];
const VERBS: &[&str] =
    &["where", "how", "can", "why", "when", "what", "should", "could", "please", "help"];
const KINDS: [&str; 4] = ["workflow", "retrieval", "llm", "tool"];
const NAMES: [&str; 4] = ["answer_question", "search_docs", "chat_completion", "call_api"];

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// A word, the first ones of the list far more often (roughly Zipf).
    fn word(&mut self) -> &'static str {
        let a = self.below(WORDS.len());
        WORDS[self.below(a + 1)]
    }
    fn sentence(&mut self, words: usize) -> String {
        let mut out = String::from(VERBS[self.below(VERBS.len())]);
        for _ in 0..words {
            out.push(' ');
            out.push_str(self.word());
        }
        out
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, count, api, app] = args.as_slice() else {
        return Err("usage: fill_spans DB_FILE COUNT API_KEY APP_KEY".into());
    };
    let count: usize = count.parse()?;
    let store = Store::open(&Database::Sqlite(db.into())).await?;
    let org = store.create_org_keys("default", api, app).await?.org;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as i64;
    let week = 7 * 86_400 * 1_000_000_000i64;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let batch = 1000;
    let mut written = 0;
    while written < count {
        let mut bodies: Vec<Box<RawValue>> = Vec::with_capacity(batch);
        for i in written..(written + batch).min(count) {
            let trace = i / 4;
            let step = i % 4;
            let start =
                now - week + (trace as i64 * (week / (count as i64 / 4 + 1))) + step as i64 * 1000;
            let app = format!("app-{}", trace % 20);
            let mut question = rng.sentence(8);
            if rng.below(10_000) == 0 {
                question.push_str(" zephyrine");
            }
            let answer = rng.sentence(20);
            let parent =
                if step == 0 { "undefined".to_owned() } else { format!("{}", trace * 4 + 1) };
            let meta = match KINDS[step] {
                "llm" => json!({"span": {"kind": "llm"}, "model_name": "gpt-4o-mini",
                    "model_provider": "openai",
                    "input": {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                                           {"role": "user", "content": question}]},
                    "output": {"messages": [{"role": "assistant", "content": answer}]},
                    "metadata": {"temperature": 0.2, "max_tokens": 256}}),
                kind => json!({"span": {"kind": kind}, "input": {"value": question},
                    "output": {"value": answer}, "metadata": {}}),
            };
            let body = json!({
                "trace_id": format!("{:032x}", trace as u128 * 0x9E37_79B9 + 7),
                "span_id": format!("{}", i + 1),
                "parent_id": parent,
                "name": NAMES[step],
                "start_ns": start,
                "duration": 1_000_000 + rng.below(900_000_000) as i64,
                "status": if rng.below(50) == 0 { "error" } else { "ok" },
                "meta": meta,
                "metrics": if step == 2 { json!({"input_tokens": rng.below(500), "output_tokens": rng.below(300)}) } else { json!({}) },
                "tags": [format!("ml_app:{app}"), "env:prod", "service:bench", "source:integration",
                         format!("session:{}", trace % 5000)],
                "session_id": format!("session-{}", trace % 5000),
                "_dd": {"span_id": format!("{}", i + 1), "trace_id": format!("{trace:x}")},
            });
            bodies.push(RawValue::from_string(body.to_string())?);
        }
        let refs: Vec<&RawValue> = bodies.iter().map(|b| &**b).collect();
        written += store.ingest_spans(Some(&org), &refs).await?;
        if written % 100_000 == 0 {
            eprintln!("{written} spans, {:.1}s", started.elapsed().as_secs_f64());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("stored {written} spans in {seconds:.1}s ({:.0} spans/s)", written as f64 / seconds);
    store.close().await;
    Ok(())
}
