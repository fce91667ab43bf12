//! `promsdk-harness`: the Prometheus-side tools of promsdk.
//!
//! `promsdk-harness parse [--format text|openmetrics] FILE|-` reads an exposition and
//! prints one JSON object per sample (`name`, `labels`, `value` as a number or `"NaN"`,
//! `"+Inf"`, `"-Inf"`, `timestamp_ms` or null, `family`, `type`). Without `--format`
//! the input is OpenMetrics when its last line is `# EOF`, text otherwise. Invalid
//! input exits with status 1 and `LINE:COLUMN: message` on stderr.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use clap::{Parser as _, Subcommand, ValueEnum};
use promsdk::parser::{detect_format, Entry, ParsedSample, Parser};
use promsdk::Format;

#[derive(clap::Parser)]
#[command(
    name = "promsdk-harness",
    version,
    about = "Prometheus-side tools of promsdk"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse an exposition and print one JSON object per sample.
    ///
    /// Without --format, input whose last line is "# EOF" is read as OpenMetrics,
    /// anything else as the text format 0.0.4. Invalid input exits with status 1 and
    /// "LINE:COLUMN: message" on stderr.
    Parse {
        /// The exposition format (default: detected from the input).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// The file to read, or "-" for standard input.
        input: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    Openmetrics,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Parse { format, input } => parse(format, &input),
    }
}

fn read_input(input: &str) -> io::Result<Vec<u8>> {
    if input == "-" {
        let mut body = Vec::new();
        io::stdin().read_to_end(&mut body)?;
        Ok(body)
    } else {
        std::fs::read(input)
    }
}

fn parse(format: Option<FormatArg>, input: &str) -> ExitCode {
    let body = match read_input(input) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("cannot read {input}: {e}");
            return ExitCode::from(2);
        }
    };
    let format = match format {
        Some(FormatArg::Text) => Format::Text,
        Some(FormatArg::Openmetrics) => Format::OpenMetrics,
        None => detect_format(&body),
    };
    let mut out = String::new();
    for entry in Parser::new(&body, format) {
        match entry {
            Ok(Entry::Sample(sample)) => {
                write_sample(&mut out, &sample);
                out.push('\n');
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        }
    }
    // Printed only once the whole input is known to be valid.
    if let Err(e) = io::stdout().lock().write_all(out.as_bytes()) {
        eprintln!("cannot write output: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn json_number(v: f64) -> String {
    if v.is_nan() {
        "\"NaN\"".into()
    } else if v == f64::INFINITY {
        "\"+Inf\"".into()
    } else if v == f64::NEG_INFINITY {
        "\"-Inf\"".into()
    } else {
        serde_json::Value::from(v).to_string()
    }
}

fn write_sample(out: &mut String, s: &ParsedSample<'_>) {
    let labels: serde_json::Map<String, serde_json::Value> = s
        .labels
        .iter()
        .map(|(n, v)| (n.to_owned(), v.into_owned().into()))
        .collect();
    let timestamp = s
        .timestamp
        .map_or_else(|| "null".to_owned(), |t| t.as_millis().to_string());
    out.push_str(&format!(
        "{{\"name\":{},\"labels\":{},\"value\":{},\"timestamp_ms\":{},\"family\":{},\"type\":{}}}",
        json_string(s.name),
        serde_json::Value::Object(labels),
        json_number(s.value),
        timestamp,
        json_string(s.family),
        json_string(s.family_type.as_str()),
    ));
}
