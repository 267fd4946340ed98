//! What an order asks to air, checked and resolved for the engine: a
//! bulletin that exists, a file inside the station's audio folder that
//! plays, or a typed notice read aloud now (or found in the cache).

use std::sync::Arc;

use super::files;
use super::notice::{self, Hold, Purpose};
use super::orders::What;
use super::{blocking, Control, Error, Result};
use crate::config::Station;
use crate::engine::{Refusal, Target};

/// The target as the engine takes it, with the notice's hold on its cache
/// file (settle it with the engine's answer).
pub(super) async fn resolve(
    c: &Control,
    station: &Arc<Station>,
    what: What,
    purpose: Purpose,
) -> Result<(Target, Option<Hold>)> {
    match what {
        What::Text(text) => {
            let (t, hold) = notice::notice(c, station, text, purpose).await?;
            Ok((t, Some(hold)))
        }
        What::Bulletin(id) => {
            if station.bulletin(&id).is_none() {
                return Err(Error::Refused(Refusal::UnknownBulletin(id)));
            }
            Ok((Target::Bulletin(id), None))
        }
        What::File(name) => {
            files::check_name(&name)?;
            let dir = station.audio_dir.clone();
            let data_dir = station.data_dir.clone();
            let target = blocking(move || {
                let path = files::resolve(&dir, &name)?;
                let info =
                    crate::probe::probe(&path).map_err(|e| Error::bad_audio(&e, &path, &name))?;
                // The operator's title for it, if it was given one.
                let title = super::titles::read(&data_dir).remove(&name);
                Ok(Target::File {
                    file: name,
                    path,
                    seconds: info.seconds,
                    title,
                    tag: None,
                })
            })
            .await?;
            Ok((target, None))
        }
    }
}
