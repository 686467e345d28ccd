# Messages of the `errors` area.
# One message per code of the error catalogue (`shared/src/error.rs`).
# The texts need no arguments: they are shown as they are.

## Severities

severity-info = Info
severity-warning = Warning
severity-error = Error
severity-critical = Critical

## Click-to-call and call outcomes

err-configuration-error = The telephony system is not configured correctly.
err-network-error = The telephony system cannot be reached over the network.
err-provider-error = The telephony provider reported an error.
err-permission-denied = You are not allowed to call this number.
err-number-invalid = This phone number is not valid.
err-destination-blocked = Calls to this number are blocked.
err-trunk-unavailable = No outside line is available.
err-busy = The called party is busy.
err-no-answer = The called party did not answer.
err-call-rejected = The called party declined the call.
err-max-concurrent-calls = The maximum number of simultaneous calls has been reached.
err-daily-limit-reached = The daily call limit has been reached.
err-call-not-found = The call does not exist.
err-invalid-state = The operation is not possible in the call's current state.
err-auth-failed = Authentication with the telephony system failed.
err-rate-limited = Too many requests; try again later.
err-unsupported = The telephony system does not support this operation.
err-internal-error = Internal error.
err-timeout = The operation timed out.

## Appliance alarms and events

err-trunk-register-auth-failed = Trunk registration failed: the provider rejected the credentials.
err-trunk-register-timeout = Trunk registration timed out.
err-trunk-register-rejected = Trunk registration was rejected by the provider.
err-trunk-unreachable = The trunk's server is unreachable.
err-trunk-options-timeout = The trunk did not answer OPTIONS keep-alives.
err-registrar-auth-failed = A device failed authentication at the registrar.
err-registrar-source-banned = A source address was banned after repeated authentication failures.
err-sip-message-malformed = A malformed SIP message was received and discarded.
err-sip-transport-tls-failed = A TLS handshake on a SIP transport failed.
err-media-timeout = No media received; the call was ended.
err-media-no-common-codec = The endpoints share no codec; the call could not be set up.
err-media-ports-exhausted = No media ports are free; the call was refused. Widen the RTP port range or lower the load.
err-media-srtp-failed = SRTP keying or authentication failed.
err-config-invalid = The new site configuration is invalid and was not applied.
err-config-apply-failed = The site configuration could not be applied; the previous configuration stays active.
err-uplink-disconnected = The appliance lost its connection to the cloud; calls keep working.
err-uplink-backlog = The appliance's outbox is backing up.
err-storage-disk-low = The appliance's disk is almost full.
err-recording-quota-exceeded = The recording quota is exhausted; new calls are not recorded.
err-recording-failed = A call that had to be recorded was not (fully) recorded.
err-quality-mos-low = Call quality (MOS) is below the threshold.
err-emergency-no-trunk = Emergency call impossible: no trunk is available.
err-tls-certificate-expiring = The appliance's TLS certificate expires soon.
