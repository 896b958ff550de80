//! The command line of a bench program: `--name value` options and bare
//! `--name` switches, read the same way by every bench so that a typo is
//! refused instead of silently measuring the defaults.

use std::fmt::Display;
use std::str::FromStr;

/// The arguments after the program name, read flag by flag.
pub struct BenchArgs {
    args: std::vec::IntoIter<String>,
}

impl BenchArgs {
    /// The process's own arguments.
    pub fn from_env() -> BenchArgs {
        BenchArgs::new(std::env::args().skip(1))
    }

    /// `args` without the program name (for tests of a bench's parsing).
    pub fn new(args: impl IntoIterator<Item = String>) -> BenchArgs {
        BenchArgs {
            args: args.into_iter().collect::<Vec<_>>().into_iter(),
        }
    }

    /// The next flag, passing over the `--bench` that `cargo bench` adds to
    /// every bench program's arguments.
    pub fn next_flag(&mut self) -> Option<String> {
        self.args.by_ref().find(|arg| arg != "--bench")
    }

    /// The value after `flag`, parsed; a missing or malformed value stops
    /// the bench with a message naming the flag.
    pub fn value<T: FromStr>(&mut self, flag: &str) -> T
    where
        T::Err: Display,
    {
        let Some(text) = self.args.next() else {
            panic!("{flag} needs a value");
        };
        text.parse()
            .unwrap_or_else(|e| panic!("{flag} {text}: {e}"))
    }
}

/// Stops the bench on a flag it does not know, pointing at its module docs.
pub fn unknown_flag(flag: &str) -> ! {
    panic!("unknown option {flag}; the bench's module docs list its options")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> BenchArgs {
        BenchArgs::new(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn reads_values_and_switches_and_passes_over_cargos_bench_flag() {
        let mut a = args(&["--bench", "--events", "12", "--sqlite", "--db", "/tmp/x"]);
        assert_eq!(a.next_flag().as_deref(), Some("--events"));
        assert_eq!(a.value::<u64>("--events"), 12);
        assert_eq!(a.next_flag().as_deref(), Some("--sqlite"));
        assert_eq!(a.next_flag().as_deref(), Some("--db"));
        assert_eq!(a.value::<String>("--db"), "/tmp/x");
        assert_eq!(a.next_flag(), None);
    }

    #[test]
    #[should_panic(expected = "--events needs a value")]
    fn a_missing_value_names_the_flag() {
        let mut a = args(&["--events"]);
        a.next_flag();
        a.value::<u64>("--events");
    }

    #[test]
    #[should_panic(expected = "--runs three")]
    fn a_malformed_value_names_the_flag_and_the_text() {
        let mut a = args(&["--runs", "three"]);
        a.next_flag();
        a.value::<usize>("--runs");
    }
}
