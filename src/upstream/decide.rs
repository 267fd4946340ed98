//! What an operator decides on a normal bulletin the province sent (the
//! console's *Bản tin tỉnh gửi*): air it now or queue it, through the same
//! control call as any bulletin, or decline it (its waiting airings are
//! removed, an audit row says who, and the province's acknowledgement
//! says declined, with the operator's name).

use chrono::Utc;

use super::act::{self, Ack, State};
use super::inbox::{Declined, Inbox, Received};
use crate::config::Priority;
use crate::control::orders::{QueueOrder, What};
use crate::control::{blocking, Caller, Error, Result, Shared};
use crate::engine::status::QueuedView;
use crate::engine::{Command, Refusal};

/// The kept bulletin `id`, open to an operator's decision.
async fn open(c: &Shared, id: &str) -> Result<(Inbox, Received)> {
    let dir = c.current.get().data_dir.clone();
    let id = id.to_string();
    let r = blocking(move || {
        Inbox::at(&dir)
            .get(&id)
            .ok_or(Error::UnknownBroadcast { id })
    })
    .await?;
    let inbox = Inbox::at(&c.current.get().data_dir);
    if !r.open(Utc::now()) {
        return Err(Error::BroadcastClosed {
            id: r.manifest.id,
            en: "was declined, has expired, or is not a normal bulletin: nothing to do",
            vi: "đã bị từ chối, đã hết hạn hoặc không phải tin thường: không làm gì thêm",
        });
    }
    Ok((inbox, r))
}

async fn update(inbox: Inbox, id: &str, f: impl FnOnce(&mut Received) + Send + 'static) {
    let id = id.to_string();
    let r = tokio::task::spawn_blocking(move || inbox.update(&id, f)).await;
    if !matches!(r, Ok(Ok(_))) {
        tracing::warn!("cannot keep what became of a province's bulletin: {r:?}");
    }
}

/// Queue the kept bulletin `id` now, at `priority` (priority: ahead of
/// waiting normal items; normal: behind them).
pub async fn air(c: &Shared, caller: &Caller, id: &str, priority: Priority) -> Result<QueuedView> {
    let (inbox, r) = open(c, id).await?;
    let what = match (&r.file, &r.manifest.text, &r.manifest.audio) {
        (Some(f), _, _) => What::File(f.clone()),
        (None, Some(t), None) => What::Text(t.clone()),
        _ => {
            return Err(Error::BroadcastClosed {
                id: id.to_string(),
                en: "has not received its audio yet: try again later",
                vi: "chưa nhận xong âm thanh: hãy thử lại sau",
            })
        }
    };
    let order = QueueOrder {
        what,
        priority: Some(priority),
        at: None,
    };
    let view = c.queue_tagged(caller, order, Some(id)).await?;
    let occ = view.occurrence.clone();
    update(inbox, id, move |r| r.add_occurrences([occ])).await;
    if let Some(client) = c.link.client() {
        let station = c.current.get().fleet.station_id.clone();
        let mut ack = Ack::new(&station, id, State::Scheduled);
        ack.by = Some(caller.name.clone());
        act::publish_ack(&client, &ack).await;
        act::watch_aired(
            c.clone(),
            client,
            station,
            r.manifest,
            vec![view.occurrence.clone()],
        );
    }
    Ok(view)
}

/// Decline the kept bulletin `id`: how many waiting airings were removed.
pub async fn decline(c: &Shared, caller: &Caller, id: &str) -> Result<usize> {
    let r = async {
        let (inbox, r) = open(c, id).await?;
        let declined = Declined {
            by: caller.name.clone(),
            at: Utc::now(),
        };
        // First, so that no watcher acknowledges it missed meanwhile.
        update(inbox, id, move |r| r.declined = Some(declined)).await;
        let removed = remove_waiting(c, &r.occurrences).await?;
        if let Some(client) = c.link.client() {
            let station = c.current.get().fleet.station_id.clone();
            let mut ack = Ack::new(&station, id, State::Declined).reason("declined_by_operator");
            ack.by = Some(caller.name.clone());
            act::publish_ack(&client, &ack).await;
        }
        Ok(removed)
    }
    .await;
    c.audit(
        caller,
        "decline province bulletin",
        &format!("broadcast={id}"),
        &r,
        |n| format!("declined; {n} waiting airing(s) removed"),
    );
    r
}

/// Take the waiting entries among `occurrences` out of the queue.
async fn remove_waiting(c: &Shared, occurrences: &[String]) -> Result<usize> {
    let mut ids = Vec::new();
    let mut seen = 0;
    loop {
        let page = c
            .queue_page(seen, crate::control::reading::MAX_QUEUE_PAGE)
            .await?;
        if page.entries.is_empty() {
            break;
        }
        seen += page.entries.len();
        ids.extend(
            page.entries
                .iter()
                .filter(|e| occurrences.contains(&e.occurrence))
                .map(|e| e.id),
        );
        if seen >= page.total {
            break;
        }
    }
    let mut removed = 0;
    for id in ids {
        match c.ask(|tx| Command::Dequeue(id, tx)).await {
            Ok(()) => removed += 1,
            Err(Error::Refused(Refusal::NotInQueue(_))) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}
