//! crontab(5) lines, translated for the `cron` crate.
//! (Stub: the schedule work fills this in.)

/// A parsed crontab(5) line.
#[derive(Debug, Clone)]
pub struct CronSpec {
    pub source: String,
}

impl CronSpec {
    /// Parse a 5-field crontab(5) line; the error says what is wrong and how
    /// to write it.
    pub fn parse(line: &str) -> Result<CronSpec, String> {
        Ok(CronSpec {
            source: line.to_string(),
        })
    }
}
