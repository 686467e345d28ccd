//! The dialogs of one forked INVITE, kept apart by remote tag.

use super::{Dialog, DialogError, DialogId};
use crate::header::{To, TypedHeader};
use crate::message::{Request, Response};
use crate::uri::Uri;

/// All dialogs created by one INVITE we sent. A forking proxy may return
/// provisional responses (and even several 2xx, RFC 3261 13.2.2.4) from
/// different UASs; each distinct To tag is its own dialog.
#[derive(Clone, Debug)]
pub struct UacDialogs {
    invite: Request,
    local_contact: Uri,
    dialogs: Vec<Dialog>,
}

impl UacDialogs {
    /// The dialog set for `invite`.
    pub fn new(invite: Request, local_contact: Uri) -> Self {
        UacDialogs {
            invite,
            local_contact,
            dialogs: Vec::new(),
        }
    }

    /// A response to the INVITE. 101–299 with a To tag creates a dialog for
    /// a new remote tag or updates (and, for a 2xx, confirms) the existing
    /// one; its id is returned. 100, tagless 1xx and 3xx–6xx return `None`.
    pub fn handle_response(
        &mut self,
        response: &Response,
    ) -> Result<Option<DialogId>, DialogError> {
        let code = response.status.as_u16();
        if !(101..300).contains(&code) {
            return Ok(None);
        }
        let Some(Ok(to)) = response.headers.typed::<To>() else {
            return Err(DialogError::MissingHeader {
                header: To::NAME_STR,
            });
        };
        let Some(tag) = to.tag() else {
            return Ok(None);
        };
        if let Some(d) = self.dialogs.iter_mut().find(|d| d.id.remote_tag == tag) {
            d.handle_response(&self.invite.method, response)?;
            return Ok(Some(d.id.clone()));
        }
        let d = Dialog::uac(&self.invite, response, self.local_contact.clone())?;
        let id = d.id.clone();
        self.dialogs.push(d);
        Ok(Some(id))
    }

    /// Every dialog, in creation order.
    pub fn dialogs(&self) -> &[Dialog] {
        &self.dialogs
    }

    /// The dialog with this remote tag.
    pub fn get_mut(&mut self, remote_tag: &str) -> Option<&mut Dialog> {
        self.dialogs
            .iter_mut()
            .find(|d| d.id.remote_tag == remote_tag)
    }

    /// Removes and returns the dialog with this remote tag (e.g. once the
    /// early dialogs of losing branches end with the final response).
    pub fn remove(&mut self, remote_tag: &str) -> Option<Dialog> {
        let i = self
            .dialogs
            .iter()
            .position(|d| d.id.remote_tag == remote_tag)?;
        Some(self.dialogs.remove(i))
    }
}
