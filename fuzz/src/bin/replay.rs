//! Runs the fuzz body without libFuzzer (stable toolchain): every file under the
//! given directories, plus deterministic mutations of each (every truncation point,
//! every single-byte replacement from a small alphabet of syntax characters).
//!
//! `cargo run --release --bin replay -- DIR...`

use std::path::{Path, PathBuf};

const ALPHABET: &[u8] = b" \n#{}=\",\\_0.e+-aINT\t\r\0\xff";

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if !path.to_string_lossy().ends_with(".json") {
            out.push(path);
        }
    }
}

fn main() {
    let mut inputs = Vec::new();
    for dir in std::env::args().skip(1) {
        files(Path::new(&dir), &mut inputs);
    }
    inputs.sort();
    let mut runs = 0u64;
    for path in &inputs {
        let Ok(data) = std::fs::read(path) else { continue };
        // Long inputs get their mutations on the first 2 KiB only, to stay quick.
        let data = &data[..data.len().min(2048)];
        promsdk_fuzz::check(data);
        runs += 1;
        for cut in 0..data.len() {
            promsdk_fuzz::check(&data[..cut]);
            runs += 1;
        }
        let mut mutated = data.to_vec();
        for i in 0..mutated.len() {
            let original = mutated[i];
            for &b in ALPHABET {
                mutated[i] = b;
                promsdk_fuzz::check(&mutated);
                runs += 1;
            }
            mutated[i] = original;
        }
    }
    println!("replay: {} inputs, {runs} runs, no failure", inputs.len());
}
