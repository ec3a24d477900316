//! CPU time spent by a proxy, read from `/proc`: user plus system time of
//! this process's threads with a given name (the gateway's runtime), or of
//! a child process and its own children (nginx's master and workers,
//! HAProxy). Divided by the requests a proxy served, it gives its CPU cost
//! per request, a figure that other load on a shared machine disturbs far
//! less than throughput.

use std::path::Path;
use std::time::Duration;

/// Linux reports CPU times in clock ticks of 1/100 s (`USER_HZ`).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time of this process's threads whose name starts with `prefix`.
pub fn threads_named(prefix: &str) -> Option<Duration> {
    let ticks = entries(Path::new("/proc/self/task"))?
        .filter_map(|dir| read_stat(&dir))
        .filter(|stat| stat.name.starts_with(prefix))
        .map(|stat| stat.ticks)
        .sum();
    Some(from_ticks(ticks))
}

/// CPU time of process `pid` and of its direct children.
pub fn process_tree(pid: u32) -> Option<Duration> {
    let own = read_stat(&Path::new("/proc").join(pid.to_string()))?;
    let children: u64 = entries(Path::new("/proc"))?
        .filter_map(|dir| read_stat(&dir))
        .filter(|stat| stat.parent == pid)
        .map(|stat| stat.ticks)
        .sum();
    Some(from_ticks(own.ticks + children))
}

fn from_ticks(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

fn entries(dir: &Path) -> Option<impl Iterator<Item = std::path::PathBuf>> {
    Some(
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path())),
    )
}

/// The fields of `/proc/.../stat` used here.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    name: String,
    parent: u32,
    /// utime + stime.
    ticks: u64,
}

fn read_stat(dir: &Path) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(dir.join("stat")).ok()?)
}

/// `pid (name) state ppid ... utime stime ...`: the name may hold spaces
/// and parentheses, so fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    let parent = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat {
        name,
        parent,
        ticks: utime + stime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_end_of_the_name() {
        let line =
            "4242 (nginx: worker (1)) S 4241 4241 4241 0 -1 4194624 900 0 0 0 37 12 0 0 20 0 1 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(
            stat,
            Stat {
                name: "nginx: worker (1)".to_owned(),
                parent: 4241,
                ticks: 49
            }
        );
    }

    #[test]
    fn this_process_has_named_threads_with_cpu_time() {
        let spin = std::thread::Builder::new()
            .name("cpu-test-spin".to_owned())
            .spawn(|| (0..20_000_000u64).fold(0u64, |a, b| a ^ b.wrapping_mul(31)))
            .unwrap();
        let _ = std::hint::black_box(spin.join());
        assert!(threads_named("no-such-thread").is_some_and(|t| t.is_zero()));
        assert!(process_tree(std::process::id()).is_some());
    }
}
