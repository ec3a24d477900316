//! CPU time spent by a proxy, read from `/proc`: user and system time of
//! this process's threads with a given name (the gateway's runtime), or of
//! a child process and its own children (nginx's master and workers,
//! HAProxy). Divided by the requests a proxy served, it gives its CPU cost
//! per request, a figure that other load on a shared machine disturbs far
//! less than throughput.

use std::path::Path;
use std::time::Duration;

/// Linux reports CPU times in clock ticks of 1/100 s (`USER_HZ`).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time split into user space and the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTime {
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// `self - earlier`, never negative.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    pub fn add(&mut self, other: CpuTime) {
        self.user += other.user;
        self.system += other.system;
    }
}

/// CPU time of this process's threads whose name starts with `prefix`.
pub fn threads_named(prefix: &str) -> Option<CpuTime> {
    let stats = entries(Path::new("/proc/self/task"))?
        .filter_map(|dir| read_stat(&dir))
        .filter(|stat| stat.name.starts_with(prefix));
    Some(sum(stats))
}

/// CPU time of process `pid` and of its direct children.
pub fn process_tree(pid: u32) -> Option<CpuTime> {
    let own = read_stat(&Path::new("/proc").join(pid.to_string()))?;
    let children = entries(Path::new("/proc"))?
        .filter_map(|dir| read_stat(&dir))
        .filter(|stat| stat.parent == pid);
    Some(sum(std::iter::once(own).chain(children)))
}

fn sum(stats: impl Iterator<Item = Stat>) -> CpuTime {
    let (user, system) = stats.fold((0, 0), |(user, system), stat| {
        (user + stat.user_ticks, system + stat.system_ticks)
    });
    CpuTime {
        user: from_ticks(user),
        system: from_ticks(system),
    }
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
    /// utime.
    user_ticks: u64,
    /// stime.
    system_ticks: u64,
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
    Some(Stat {
        name,
        parent,
        user_ticks: fields.get(11)?.parse().ok()?,
        system_ticks: fields.get(12)?.parse().ok()?,
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
                user_ticks: 37,
                system_ticks: 12,
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
        assert_eq!(threads_named("no-such-thread"), Some(CpuTime::default()));
        assert!(process_tree(std::process::id()).is_some());
    }
}
