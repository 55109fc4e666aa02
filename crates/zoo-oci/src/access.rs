//! The registries one command talks to, each with its credentials and token
//! cache, shared by its threads; zoo-fetch reaches `oci` sources through it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zoo_fetch::{RegistryAccess, Secret};
use zoo_types::{OciReference, OciRegistry, Sha256Hex};

use crate::auth::credentials_for;
use crate::client::Client;
use crate::error::OciError;

#[derive(Debug, Default)]
pub struct Registries {
    /// Plain HTTP for registries that are not on loopback (`--insecure`).
    insecure: bool,
    clients: Mutex<HashMap<OciRegistry, Arc<Client>>>,
}

impl Registries {
    pub fn new(insecure: bool) -> Registries {
        Registries {
            insecure,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `registry`, made on first use with the Docker config's
    /// credentials for it.
    pub fn client(&self, registry: &OciRegistry) -> Result<Arc<Client>, OciError> {
        let mut clients = self.clients.lock().expect("lock");
        if let Some(c) = clients.get(registry) {
            return Ok(Arc::clone(c));
        }
        let client = Arc::new(Client::new(
            registry,
            self.insecure,
            credentials_for(registry)?,
        )?);
        clients.insert(registry.clone(), Arc::clone(&client));
        Ok(client)
    }
}

impl RegistryAccess for Registries {
    fn blob_url(&self, reference: &OciReference, digest: &Sha256Hex) -> String {
        match self.client(&reference.registry) {
            Ok(c) => c.blob_url(&reference.repository, digest),
            Err(_) => format!(
                "https://{}/v2/{}/blobs/sha256:{digest}",
                reference.registry, reference.repository
            ),
        }
    }

    fn authorization(&self, reference: &OciReference) -> Result<Option<Secret>, String> {
        let client = self
            .client(&reference.registry)
            .map_err(|e| e.to_string())?;
        client
            .pull_authorization(&reference.repository)
            .map_err(|e| e.to_string())
    }
}
