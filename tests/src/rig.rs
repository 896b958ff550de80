//! One store's gateway under test, with everything around it: a broker, a
//! receiver link, the fake tags on its device end, an HQ observer and a
//! store.toml. Tests add faults to this and check the durability contract.

use crate::mosquitto::Mosquitto;
use crate::process::{ChildGuard, GatewayArgs};
use crate::serial_link::SerialLink;
use crate::store::StoreToml;
use crate::subscriber::Subscriber;
use crate::tags::TagWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// How long any single step of a gateway test may take before it is a
/// failure. Generous: a loaded 2-core CI box, debug builds.
pub const STEP: Duration = Duration::from_secs(20);

/// Fields drop in declaration order: the gateway dies before its link and
/// broker, and the tempdir (logs, spool) goes last.
pub struct GatewayRig {
    pub gateway: Option<ChildGuard>,
    pub tags: TagWriter,
    pub sub: Subscriber,
    pub link: SerialLink,
    pub broker: Mosquitto,
    pub store: StoreToml,
    pub args: GatewayArgs,
    pub dir: TempDir,
}

impl GatewayRig {
    /// A plain broker, a pty link, a subscribed observer and a written
    /// config (changed by `configure`); the gateway is not started yet.
    pub fn new(configure: impl FnOnce(&mut StoreToml)) -> GatewayRig {
        GatewayRig::with_broker(Mosquitto::start(), configure)
    }

    /// Like [`GatewayRig::new`] on a given broker (TLS, password).
    pub fn with_broker(broker: Mosquitto, configure: impl FnOnce(&mut StoreToml)) -> GatewayRig {
        let dir = tempfile::Builder::new()
            .prefix("aisle-gw-")
            .tempdir()
            .expect("tempdir");
        let link = SerialLink::open(dir.path());
        let sub = Subscriber::connect(&broker.observer_url());
        let tags = TagWriter::open(&link.device_path());
        let spool = dir.path().join("spool.sqlite");
        let mut store = StoreToml::new(&broker.url(), &link.gateway_path(), &spool);
        configure(&mut store);
        let config = store.write(&dir.path().join("store.toml"));
        // The command line names the broker, receiver and spool explicitly,
        // as store IT's overrides would, so those flags are exercised too.
        let mut args = GatewayArgs::new(&config);
        args.broker = Some(store.broker_url.clone());
        args.receivers = store.receivers.clone();
        args.spool = Some(store.spool.clone());
        GatewayRig {
            gateway: None,
            tags,
            sub,
            link,
            broker,
            store,
            args,
            dir,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts (or restarts) the gateway process with the rig's arguments.
    pub fn start_gateway(&mut self) -> &mut ChildGuard {
        assert!(
            self.gateway.as_mut().is_none_or(|g| !g.is_running()),
            "gateway already running"
        );
        self.gateway = Some(self.args.spawn());
        self.gateway.as_mut().unwrap()
    }

    pub fn gateway(&mut self) -> &mut ChildGuard {
        self.gateway.as_mut().expect("gateway not started")
    }

    pub fn store_id(&self) -> &str {
        &self.store.store
    }
}
