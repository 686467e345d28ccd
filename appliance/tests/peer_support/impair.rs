//! A seeded UDP impairment proxy for the media path (`tc netem` is not
//! available here). It binds every port of the appliance's RTP range on its
//! own loopback address; the appliance advertises that address in its SDP
//! (`[media] advertise_ip`) while binding its sockets on another, so a
//! phone's RTP and RTCP reach the proxy, which forwards each datagram to
//! the same port on the appliance. Symmetric RTP latching then sends the
//! appliance's packets back through the proxy, which forwards them to the
//! phone's address it last heard from on that port.
//!
//! Impairments per direction, from one seeded PRNG: RTP (classified by the
//! second byte, RFC 5761) is lost with probability `loss` and delayed by
//! `delay` ± `jitter` (uniform); RTCP gets the fixed `delay` only, so that
//! a round trip measures 2 × `delay` exactly.
#![allow(clippy::unwrap_used, reason = "test helper")]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;

/// What the proxy does to each direction.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    pub loss: f64,
    pub delay: Duration,
    /// Half-width of the uniform delay variation of RTP.
    pub jitter: Duration,
    pub seed: u64,
}

/// Counters per direction: (to appliance, to phone).
#[derive(Debug, Default, Clone, Copy)]
pub struct ProxyCounts {
    pub rtp_to_appliance: u64,
    pub rtp_lost_to_appliance: u64,
    pub rtp_to_phone: u64,
    pub rtp_lost_to_phone: u64,
    pub rtcp_to_appliance: u64,
    pub rtcp_to_phone: u64,
}

/// The running proxy; stops (runtime dropped) when dropped.
pub struct ImpairProxy {
    runtime: Option<tokio::runtime::Runtime>,
    counts: Arc<Mutex<ProxyCounts>>,
}

impl ImpairProxy {
    /// Binds `proxy_ip:port` for every port in `ports` and forwards to
    /// `appliance_ip:port`.
    pub fn start(
        proxy_ip: IpAddr,
        appliance_ip: IpAddr,
        ports: (u16, u16),
        impairment: Impairment,
    ) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let counts = Arc::new(Mutex::new(ProxyCounts::default()));
        let rng = Arc::new(Mutex::new(impairment.seed | 1));
        for port in ports.0..=ports.1 {
            let socket = runtime.block_on(async {
                UdpSocket::bind(SocketAddr::new(proxy_ip, port))
                    .await
                    .unwrap_or_else(|e| panic!("proxy cannot bind {proxy_ip}:{port}: {e}"))
            });
            let appliance = SocketAddr::new(appliance_ip, port);
            let (counts, rng) = (Arc::clone(&counts), Arc::clone(&rng));
            runtime.spawn(relay_port(
                Arc::new(socket),
                appliance,
                impairment,
                counts,
                rng,
            ));
        }
        Self {
            runtime: Some(runtime),
            counts,
        }
    }

    /// What the proxy did so far.
    pub fn counts(&self) -> ProxyCounts {
        *self.counts.lock().unwrap()
    }
}

impl Drop for ImpairProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// xorshift64* in [0, 1).
fn unit(state: &Mutex<u64>) -> f64 {
    let mut s = state.lock().unwrap();
    let mut x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

async fn relay_port(
    socket: Arc<UdpSocket>,
    appliance: SocketAddr,
    imp: Impairment,
    counts: Arc<Mutex<ProxyCounts>>,
    rng: Arc<Mutex<u64>>,
) {
    let mut phone: Option<SocketAddr> = None;
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let to_appliance = from != appliance;
        let destination = if to_appliance {
            phone = Some(from);
            appliance
        } else {
            match phone {
                Some(p) => p,
                None => continue,
            }
        };
        let is_rtcp = n >= 2 && (192..=223).contains(&buf[1]);
        let delay = {
            let mut c = counts.lock().unwrap();
            match (is_rtcp, to_appliance) {
                (true, true) => c.rtcp_to_appliance += 1,
                (true, false) => c.rtcp_to_phone += 1,
                (false, true) => c.rtp_to_appliance += 1,
                (false, false) => c.rtp_to_phone += 1,
            }
            if is_rtcp {
                imp.delay
            } else {
                if unit(&rng) < imp.loss {
                    if to_appliance {
                        c.rtp_lost_to_appliance += 1;
                    } else {
                        c.rtp_lost_to_phone += 1;
                    }
                    continue;
                }
                let offset = (unit(&rng) * 2.0 - 1.0) * imp.jitter.as_secs_f64();
                Duration::from_secs_f64((imp.delay.as_secs_f64() + offset).max(0.0))
            }
        };
        let bytes = buf[..n].to_vec();
        let socket = Arc::clone(&socket);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = socket.send_to(&bytes, destination).await;
        });
    }
}
