//! `kafkasim partition`: the default partitioner's choice for keys.

use std::io::Write;

use kafkasim_core::partitioner::{murmur2, partition_for_key, to_positive};

#[derive(clap::Args)]
pub struct Args {
    /// Number of partitions of the topic
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u32).range(1..))]
    partitions: u32,
    /// Keys, taken as UTF-8 bytes (or as hex with --hex)
    #[arg(required = true)]
    keys: Vec<String>,
    /// Read each key as hexadecimal bytes, such as 00ff10
    #[arg(long)]
    hex: bool,
}

pub fn run(args: &Args, out: &mut impl Write) -> Result<(), String> {
    let keys = args
        .keys
        .iter()
        .map(|key| {
            if args.hex {
                parse_hex(key)
            } else {
                Ok(key.as_bytes().to_vec())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let width = args.keys.iter().map(String::len).max().unwrap_or(0).max(3);
    let write =
        |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(crate::output_error);
    write(
        out,
        format!(
            "{:width$}  {:>11}  {:>10}  partition (of {})",
            "key", "murmur2", "toPositive", args.partitions
        ),
    )?;
    for (shown, key) in args.keys.iter().zip(keys) {
        let hash = murmur2(&key);
        let partition = partition_for_key(&key, args.partitions);
        write(
            out,
            format!(
                "{shown:width$}  {hash:>11}  {:>10}  {partition}",
                to_positive(hash)
            ),
        )?;
    }
    Ok(())
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if !digits.len().is_multiple_of(2) || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "key {text:?} is not hex: give an even number of hex digits, such as 00ff10"
        ));
    }
    Ok((0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("checked"))
        .collect())
}
