//! A province's stations in one PostgreSQL: each station copies its closed
//! airtime rows there (`ship`), and `loa report --postgres` reads the
//! campaign report across stations from it (`report`). The central schema
//! is loa's own, created and migrated by whichever loa connects first
//! (`schema`).
//!
//! Nothing here is needed to air: the local ledger stays the source of
//! truth, the copy follows it at its own pace, and a link down for hours
//! only delays the copy. This module must not write `airtime` rows, decide
//! what airs, or format reports (`crate::report` does, for both).

/// The SQL counting the rows of a group that went on air, and those an
/// operator took off before they started (`crate::reason::
/// OPERATOR_CANCEL_CODES`; rows shipped before schema version 3 carry the
/// English text only): macros, so the report's and the rollup's queries
/// are built from one text at compile time.
macro_rules! on_air_sql {
    () => {
        "sum(CASE WHEN outcome IN ('completed', 'interrupted') THEN 1          WHEN outcome = 'failed' AND (aired_seconds > 0 OR started_at IS NOT NULL) THEN 1          ELSE 0 END)::int8"
    };
}
macro_rules! cancelled_sql {
    () => {
        "sum(CASE WHEN outcome IN ('skipped', 'missed') AND          (reason_code IN ('dequeued', 'emergency_cancelled_by') OR (reason_code IS NULL AND           (reason = 'removed from the queue by an operator'            OR reason LIKE 'emergency cancelled by %'))) THEN 1 ELSE 0 END)::int8"
    };
}

mod province;
mod schema;
mod ship;

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;

pub(crate) use province::{fleet_report, format_fleet_report, FleetReport, Part, CANCELLED};
pub use province::{REPORT_BROADCAST_SQL, REPORT_MONTHS_SQL, REPORT_SQL};
pub(crate) use schema::migrate;
#[cfg(test)]
pub(crate) use schema::CANCELLED_SQL;
pub use schema::{rollup_sql, ROLLUP_SQL};
pub(crate) use ship::{spawn, Progress, Shipping};

/// The zone `loa_airtime_month` counts months in, and the province's
/// report reads periods in: Vietnam's (one zone, no daylight saving).
pub(crate) const MONTH_TZ: chrono_tz::Tz = crate::config::DEFAULT_TIMEZONE;

/// How long connecting may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Connect to the province's database: TLS when the server offers it
/// (`sslmode=prefer`, the default) or the string demands it
/// (`sslmode=require`), with the system's CA store. The connection's own
/// task runs on the current runtime until the client is dropped.
pub(crate) async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // A 4G link that drops takes the TCP connection with it silently:
    // probe it, so a dead session is noticed in about a minute.
    config.keepalives_idle(Duration::from_secs(30));
    let (client, connection) = config.connect(tls()).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("province database connection ended: {e}");
        }
    });
    Ok(client)
}

fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    tokio_postgres_rustls::MakeRustlsConnect::new(client_tls())
}

/// TLS for a client of the province's services (its database, its MQTT
/// broker): rustls on ring, trusting the system's CA store, so a
/// province's own CA is added with update-ca-certificates.
pub(crate) fn client_tls() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable certificates are skipped: the others still verify.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The province's report from the database at `url` (created or migrated
/// first if needed): what `loa report --postgres` and the API's
/// `scope=province` both answer, of one `broadcast` of the province when
/// given. Periods in `filter` are read in [`MONTH_TZ`].
pub(crate) async fn read_report(
    url: &str,
    filter: &crate::ledger::Filter,
    broadcast: Option<&str>,
) -> anyhow::Result<FleetReport> {
    let mut client = connect(url).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the province's database ({}); check the connection string",
            pg_error(&e)
        )
    })?;
    migrate(&mut client).await?;
    fleet_report(&client, filter, broadcast, MONTH_TZ).await
}

/// A PostgreSQL error with the server's own words when there are some
/// (`{e}` alone often says only "db error").
pub(crate) fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                s.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    /// The province's sums tell an operator's cancellations apart by the
    /// same codes as the station's ledger.
    #[test]
    fn the_cancel_sql_names_the_operator_cancel_codes() {
        for code in crate::reason::OPERATOR_CANCEL_CODES {
            assert!(
                super::CANCELLED_SQL.contains(&format!("'{code}'")),
                "{code}"
            );
            assert!(super::REPORT_SQL.contains(&format!("'{code}'")), "{code}");
        }
    }
}
