//! Prints what the inference engine makes of member images: every
//! candidate with its evidence (a tool for looking into a wrong answer).
//! `cargo run --release -p recover-core --example infer_debug -- [--level=5] [--chunk=KiB] [--offset=0xHEX] m0.img m1.img ...`
use recover_core::io::{open_source, MapPolicy, VolumeRef};
use recover_core::raid::infer::{infer, Hints};

fn main() {
    let mut hints = Hints::default();
    let mut paths: Vec<String> = Vec::new();
    for a in std::env::args().skip(1) {
        if let Some(v) = a.strip_prefix("--offset=") {
            hints.offset = u64::from_str_radix(v.trim_start_matches("0x"), 16).ok();
        } else if let Some(v) = a.strip_prefix("--level=") {
            hints.level = recover_core::raid::metadata::Level::from_name(v);
        } else if let Some(v) = a.strip_prefix("--chunk=") {
            hints.chunk = v.parse::<u64>().ok().map(|k| k << 10);
        } else {
            paths.push(a);
        }
    }
    let members: Vec<VolumeRef> = paths
        .iter()
        .map(|p| {
            open_source(std::path::Path::new(p), MapPolicy::Auto)
                .expect("open")
                .volume
        })
        .collect();
    if std::env::var_os("STARTS").is_some() {
        use recover_core::raid::infer::{anchors, sample};
        let counted: Vec<_> = members
            .iter()
            .map(|m| sample::Counted::new(m.clone(), sample::HARD_CAP))
            .collect();
        let least = members.iter().map(|m| m.len()).min().unwrap_or(0);
        let s = sample::Sample::read(&counted, &sample::plan(least, 48 << 20));
        for (m, off, k) in anchors::find_starts(&s, 256) {
            println!("start: member {m} at {off:#x}: {k:?}");
        }
    }
    let inf = infer(&members, &hints, &|_, _| {}).expect("infer");
    for n in &inf.notes {
        println!("note: {n}");
    }
    let top = std::env::var("TOP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    for c in inf.candidates.iter().take(top) {
        println!(
            "{:.3} score {:.2} checks {:.2} contra {} cont {:.2}: {}",
            c.confidence,
            c.score,
            c.checks,
            c.contradictions,
            c.continuity,
            c.summary()
        );
        for e in &c.evidence {
            println!("    {e}");
        }
    }
    for (i, f) in inf.further.iter().enumerate() {
        for c in f.iter().take(3) {
            println!("further {i}: {:.3} {}", c.confidence, c.summary());
        }
    }
    println!("read: {:?}", inf.bytes_read);
}
