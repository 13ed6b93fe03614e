//! Measures `get_prompt` hot (memory), warm (disk) and cold (HTTP), for `bench/prompts.sh`.
//!
//! ```text
//! bench_prompts setup --origin URL --api-key K --app-key A --prompt ID
//! bench_prompts run   --origin URL --api-key K --prompt ID --cache-dir DIR [--scale N]
//! ```
//!
//! `run` prints one JSON object per line: `{"sdk":"llmobs","mode":…,"median_ns":…,
//! "p90_ns":…,"samples":…}`. Hot figures are per call, from batches of calls; warm and
//! cold are single calls. A counting allocator reports the allocations of a hot call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use llmobs::{ChatItem, Client, NewPrompt, Template};

/// Counts allocations, to show that a hot hit allocates nothing.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Args {
    command: String,
    origin: String,
    api_key: String,
    app_key: String,
    prompt: String,
    cache_dir: String,
    scale: u32,
}

fn args() -> Args {
    let mut raw = std::env::args().skip(1);
    let mut args = Args {
        command: raw.next().unwrap_or_default(),
        origin: String::new(),
        api_key: String::new(),
        app_key: String::new(),
        prompt: "bench-prompt".into(),
        cache_dir: std::env::temp_dir().join("llmobs-bench-cache").display().to_string(),
        scale: 1,
    };
    while let Some(flag) = raw.next() {
        let value = raw.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--origin" => args.origin = value,
            "--api-key" => args.api_key = value,
            "--app-key" => args.app_key = value,
            "--prompt" => args.prompt = value,
            "--cache-dir" => args.cache_dir = value,
            "--scale" => args.scale = value.parse().expect("--scale N"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn report(mode: &str, mut samples: Vec<f64>, extra: &str) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        r#"{{"sdk":"llmobs","mode":"{mode}","median_ns":{:.1},"p90_ns":{:.1},"samples":{}{extra}}}"#,
        at(0.5),
        at(0.9),
        samples.len()
    );
}

fn client(args: &Args, ttl: Duration) -> Client {
    Client::builder()
        .origin(&args.origin)
        .api_key(&args.api_key)
        .app_key(&args.app_key)
        .cache_dir(&args.cache_dir)
        .cache_ttl(ttl)
        .build()
        .expect("client")
}

async fn setup(args: &Args) {
    let client = client(args, Duration::from_secs(60));
    let template = Template::Chat(vec![
        ChatItem::message("system", "You are a helpful assistant for {{company}}."),
        ChatItem::message("user", "{{question}}"),
    ]);
    match client.create_prompt(NewPrompt::new(&args.prompt, template).title("Benchmark")).await {
        Ok(created) => eprintln!("created prompt {} ({})", created.prompt_id, created.uuid),
        Err(err) if err.kind() == llmobs::ErrorKind::Conflict => {}
        Err(err) => panic!("creating the prompt: {err}"),
    }
}

async fn run(args: &Args) {
    let id = args.prompt.as_str();
    let scale = args.scale.max(1) as usize;

    // Hot: a fresh entry in memory, per call over batches of calls.
    let hot = client(args, Duration::from_secs(3600));
    hot.get_prompt(id).await.expect("first fetch");
    const BATCH: usize = 1000;
    for _ in 0..20_000 {
        black_box(hot.get_prompt(black_box(id)).await.unwrap());
    }
    let mut samples = Vec::new();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..200 * scale {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(hot.get_prompt(black_box(id)).await.unwrap());
        }
        samples.push(start.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    let calls = (200 * scale * BATCH) as f64;
    let allocs = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / calls;
    report("hot", samples, &format!(r#","allocs_per_call":{allocs:.3}"#));

    // Warm: the memory tier emptied before each call, so each call reads the disk.
    let mut samples = Vec::new();
    for _ in 0..300 * scale {
        hot.clear_prompt_cache(true, false).await;
        let start = Instant::now();
        let prompt = hot.get_prompt(id).await.unwrap();
        samples.push(start.elapsed().as_nanos() as f64);
        assert_eq!(prompt.source(), llmobs::Source::Cache);
    }
    report("warm", samples, "");

    // Cold: caching off, so each call is one HTTP request (on a pooled connection).
    let cold = client(args, Duration::ZERO);
    cold.get_prompt(id).await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..300 * scale {
        let start = Instant::now();
        let prompt = cold.get_prompt(id).await.unwrap();
        samples.push(start.elapsed().as_nanos() as f64);
        assert_eq!(prompt.source(), llmobs::Source::Registry);
    }
    report("cold", samples, "");
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    match args.command.as_str() {
        "setup" => runtime.block_on(setup(&args)),
        "run" => runtime.block_on(run(&args)),
        other => panic!("unknown command {other:?}: use setup or run"),
    }
    drop(runtime);

    if args.command == "run" {
        // The blocking client's hot path, answered on the calling thread.
        let blocking = llmobs::blocking::Client::builder()
            .origin(&args.origin)
            .api_key(&args.api_key)
            .cache_dir(&args.cache_dir)
            .cache_ttl(Duration::from_secs(3600))
            .build()
            .unwrap();
        blocking.get_prompt(&args.prompt).unwrap();
        let mut samples = Vec::new();
        for _ in 0..200 * args.scale.max(1) {
            let start = Instant::now();
            for _ in 0..1000 {
                black_box(blocking.get_prompt(black_box(&args.prompt)).unwrap());
            }
            samples.push(start.elapsed().as_nanos() as f64 / 1000.0);
        }
        report("hot_blocking", samples, "");
    }
}
