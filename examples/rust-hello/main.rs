// rust-hello: a Rust workload (std, wasm32-wasi). Arguments, environment, stdout/stderr, the
// bundled assets read with std::fs from the read-only tree preopened at "/", and the exit code
// given by --exit=N (std::process::exit). --panic panics (wasm32-wasi aborts: a trap);
// --alloc-mib=N holds N MiB in 1 MiB blocks (to meet `--max-memory`).
use std::collections::HashMap;
use std::env;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::process;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn main() {
    println!("Hello from Rust! (a wasm32-wasi workload)");
    let mut code = 0;
    for (i, arg) in env::args().enumerate() {
        println!("argv[{}]={}", i, arg);
        if let Some(n) = arg.strip_prefix("--exit=") {
            code = n.parse().unwrap_or(1);
        }
        if let Some(n) = arg.strip_prefix("--alloc-mib=") {
            let mib: usize = n.parse().unwrap_or(0);
            let blocks: Vec<Vec<u8>> = (0..mib).map(|i| vec![i as u8; 1 << 20]).collect();
            println!("allocated {} MiB", blocks.len());
        }
        if arg == "--panic" {
            panic!("asked to panic");
        }
    }
    for name in ["GREETING", "FD_COUNT", "FD_NAMES"] {
        println!("{}={}", name, env::var(name).unwrap_or_else(|_| "(unset)".into()));
    }

    let start = Instant::now();
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let clocks_ok = since_epoch > 1_600_000_000 && start.elapsed().as_secs() < 60;
    println!("clocks: {}", if clocks_ok { "ok" } else { "wrong" });

    // Assets: absent unless the runtime was given an asset tree (--assets / the package).
    match fs::read_dir("/") {
        Ok(dir) => {
            let mut names: Vec<String> = dir
                .filter_map(|e| e.ok())
                .map(|e| {
                    let dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                    format!("{}{}", e.file_name().to_string_lossy(), if dir { "/" } else { "" })
                })
                .collect();
            names.sort();
            println!("assets: {}", names.join(" "));
            match fs::read_to_string("/message.txt") {
                Ok(text) => print!("message.txt: {}", text),
                Err(e) => println!("message.txt: {}", e),
            }
            // A HashMap seeds its hasher from random_get.
            let mut counts: HashMap<String, usize> = HashMap::new();
            if let Ok(text) = fs::read_to_string("/data/words.txt") {
                for w in text.split_whitespace() {
                    *counts.entry(w.chars().next().unwrap().to_string()).or_default() += 1;
                }
            }
            if let Ok(mut f) = fs::File::open("/data/words.txt") {
                let mut rest = String::new();
                if f.seek(SeekFrom::Start(6)).is_ok() && f.read_to_string(&mut rest).is_ok() {
                    println!("data/words.txt from byte 6: {}", rest.lines().next().unwrap_or(""));
                }
            }
            let size = fs::metadata("/data/words.txt").map(|m| m.len()).unwrap_or(0);
            println!("data/words.txt: {} bytes, {} words", size, counts.values().sum::<usize>());
            match fs::write("/new.txt", b"x") {
                Ok(()) => println!("write attempt: succeeded (unexpected)"),
                Err(e) => println!("write attempt: {}", e),
            }
        }
        Err(e) => println!("assets: {}", e),
    }

    eprintln!("rust-hello: exiting with {}", code);
    process::exit(code);
}
