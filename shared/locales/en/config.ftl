# Messages of the `config` area: problems found in the site configuration
# (pushed by the cloud or read from site.toml) and in appliance.toml.
# Each message id is a `ProblemCode` id (see shared/src/site_config/problem.rs).

config-syntax = The file is not valid TOML (line { $line }, column { $column }): { $detail }
config-not-a-table = A table (section with keys) is expected here.
config-version-missing = The key `version` is missing; put `version = { $supported }` at the top of the file.
config-version-unsupported = Schema version { $version } is not supported; this software reads version { $supported }.
config-unknown-key = Unknown key `{ $key }` (typo?); this key does not exist here.
config-inline-password = Do not put a password in the configuration (`{ $key }`). Name an entry of the secrets file ({ $file }) with `credentials`.
config-missing-key = Required key `{ $key }` is missing.
config-invalid-choice = Invalid choice `{ $value }`; allowed: { $allowed }.
config-invalid-type = Invalid value or wrong type for `{ $key }`: { $detail }
config-empty = This value must not be empty.
config-too-long = This text is too long (at most { $max } characters).
config-value-out-of-range = Value { $value } is outside the allowed range { $min } to { $max }.
config-invalid-name = Invalid name `{ $value }`: use 1 to 64 lower-case letters, digits, `-` or `_`, starting with a letter or digit.
config-duplicate-name = The name `{ $name }` is already used at { $other }.
config-empty-list = This list must not be empty.
config-port-out-of-range = Port { $value } is invalid; use a port from 1 to 65535.
config-host-invalid = `{ $value }` is not a valid host name or IP address (without port).
config-duplicate-trunk-id = Trunk id `{ $id }` is already used at { $other }.
config-duplicate-trunk-priority = Priority { $priority } is already used at { $other }; each trunk needs its own priority.
config-unknown-trunk = There is no trunk with id `{ $id }`.
config-cidr-invalid = `{ $value }` is not a valid network in CIDR notation (for example 192.0.2.0/24; host bits must be 0).
config-did-not-e164 = This number is not in international (E.164) notation, for example +31201234567.
config-duplicate-did = This number is already listed at { $other }.
config-empty-codec-list = The codec list must not be empty.
config-duplicate-codec = Codec `{ $codec }` is listed twice.
config-no-audio-codec = The codec list has no audio codec (`telephone-event` alone is not enough).
config-extension-number-invalid = An extension number has 2 to 6 digits and does not start with 0.
config-duplicate-extension = This extension number is already used at { $other }.
config-extension-collides-echo-test = This extension number equals the echo test number ({ $echo }).
config-extension-emergency-number = An emergency number (112, 911, 999) cannot be an extension number.
config-unknown-extension = There is no extension with this number.
config-unknown-permission-profile = There is no permission profile named `{ $name }`.
config-unknown-recording-policy = There is no recording policy named `{ $name }`.
config-pattern-invalid = Dial pattern `{ $pattern }` is invalid (at character { $position }). Use digits, X, Z, N, [1-5] and a trailing dot.
config-strip-too-long = The rule strips { $strip } characters but its pattern can be as short as { $min }.
config-dial-string-invalid = `{ $value }` is invalid: use digits, * and # only (a prefix may start with +).
config-class-not-permittable = The number class `invalid` cannot be allowed.
config-rtp-range-too-small = The RTP port range has { $count } ports; at least { $min } are needed.
config-rtp-start-odd = The RTP port range must start on an even port (now { $value }).
config-url-invalid = `{ $value }` is not a valid URL (expected: mqtts://host:8883).
config-url-scheme = URL scheme `{ $scheme }` is not supported; use { $expected }.
config-path-not-absolute = Path `{ $value }` must be absolute (start with /).
config-socket-addr-invalid = `{ $value }` is not a valid listen address (IP address:port, for example 0.0.0.0:5060).
config-tls-listen-needs-cert = A TLS listen address needs a certificate (`tls_cert`) and key (`tls_key`).
config-ip-invalid = `{ $value }` is not a valid IP address (for example 192.0.2.10 or 2001:db8::10, without a port).
config-advertise-invalid = `{ $value }` cannot be advertised: give one unicast IP address without a port (for example 203.0.113.7), not 0.0.0.0, ::, a multicast address or a name.
