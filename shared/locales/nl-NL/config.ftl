# Messages of the `config` area: problems found in the site configuration
# (pushed by the cloud or read from site.toml) and in appliance.toml.
# Each message id is a `ProblemCode` id (see shared/src/site_config/problem.rs).

config-syntax = Het bestand is geen geldige TOML (regel { $line }, kolom { $column }).
config-not-a-table = Hier wordt een tabel (sectie met sleutels) verwacht.
config-version-missing = De sleutel `version` ontbreekt; zet `version = { $supported }` bovenaan het bestand.
config-version-unsupported = Schemaversie { $version } wordt niet ondersteund; deze versie van de software leest versie { $supported }.
config-unknown-key = Onbekende sleutel `{ $key }` (tikfout?); deze sleutel bestaat niet op deze plek.
config-inline-password = Zet geen wachtwoord in de configuratie (`{ $key }`). Verwijs met `credentials` naar een item in het secrets-bestand ({ $file }).
config-missing-key = Verplichte sleutel `{ $key }` ontbreekt.
config-invalid-choice = Ongeldige keuze `{ $value }`; toegestaan: { $allowed }.
config-invalid-type = Ongeldige waarde of verkeerd type voor `{ $key }`.
config-empty = Deze waarde mag niet leeg zijn.
config-too-long = Deze tekst is te lang (maximaal { $max } tekens).
config-value-out-of-range = Waarde { $value } valt buiten het toegestane bereik { $min } t/m { $max }.
config-invalid-name = Ongeldige naam `{ $value }`: gebruik 1 tot 64 kleine letters, cijfers, `-` of `_`, beginnend met een letter of cijfer.
config-duplicate-name = De naam `{ $name }` wordt al gebruikt bij { $other }.
config-empty-list = Deze lijst mag niet leeg zijn.
config-port-out-of-range = Poort { $value } is ongeldig; gebruik een poort van 1 t/m 65535.
config-host-invalid = `{ $value }` is geen geldige hostnaam of IP-adres (zonder poortnummer).
config-duplicate-trunk-id = Trunk-id `{ $id }` wordt al gebruikt bij { $other }.
config-duplicate-trunk-priority = Prioriteit { $priority } wordt al gebruikt bij { $other }; elke trunk heeft een eigen prioriteit.
config-unknown-trunk = Er is geen trunk met id `{ $id }`.
config-cidr-invalid = `{ $value }` is geen geldig netwerk in CIDR-notatie (bijvoorbeeld 192.0.2.0/24; hostbits moeten 0 zijn).
config-did-not-e164 = Dit nummer staat niet in internationale notatie (E.164), bijvoorbeeld +31201234567.
config-duplicate-did = Dit nummer staat al bij { $other }.
config-empty-codec-list = De codeclijst mag niet leeg zijn.
config-duplicate-codec = Codec `{ $codec }` staat twee keer in de lijst.
config-no-audio-codec = De codeclijst bevat geen audiocodec (alleen `telephone-event` is niet genoeg).
config-extension-number-invalid = Een toestelnummer bestaat uit 2 tot 6 cijfers en begint niet met 0.
config-duplicate-extension = Dit toestelnummer wordt al gebruikt bij { $other }.
config-extension-collides-echo-test = Dit toestelnummer is gelijk aan het nummer van de echotest ({ $echo }).
config-extension-emergency-number = Een alarmnummer (112, 911, 999) kan geen toestelnummer zijn.
config-unknown-extension = Er is geen toestel met dit nummer.
config-unknown-permission-profile = Er is geen belprofiel met de naam `{ $name }`.
config-unknown-recording-policy = Er is geen opnamebeleid met de naam `{ $name }`.
config-pattern-invalid = Kiespatroon `{ $pattern }` is ongeldig (bij teken { $position }). Gebruik cijfers, X, Z, N, [1-5] en een afsluitende punt.
config-strip-too-long = Er worden { $strip } tekens verwijderd, maar het patroon is soms maar { $min } tekens lang.
config-dial-string-invalid = `{ $value }` is ongeldig: gebruik alleen cijfers, * en # (een voorvoegsel mag met + beginnen).
config-class-not-permittable = De nummerklasse `invalid` kan niet worden toegestaan.
config-rtp-range-too-small = Het RTP-poortbereik heeft { $count } poorten; minimaal { $min } nodig.
config-rtp-start-odd = Het RTP-poortbereik moet op een even poort beginnen (nu { $value }).
config-url-invalid = `{ $value }` is geen geldige URL (verwacht: mqtts://host:8883).
config-url-scheme = URL-schema `{ $scheme }` wordt niet ondersteund; gebruik { $expected }.
config-path-not-absolute = Pad `{ $value }` moet absoluut zijn (beginnen met /).
config-socket-addr-invalid = `{ $value }` is geen geldig luisteradres (IP-adres:poort, bijvoorbeeld 0.0.0.0:5060).
config-tls-listen-needs-cert = Voor een TLS-luisteradres zijn een certificaat (`tls_cert`) en sleutel (`tls_key`) nodig.
config-ip-invalid = `{ $value }` is geen geldig IP-adres (bijvoorbeeld 192.0.2.10 of 2001:db8::10, zonder poort).
config-advertise-invalid = `{ $value }` kan niet als adres worden doorgegeven: geef één gewoon IP-adres zonder poort (bijvoorbeeld 203.0.113.7), niet 0.0.0.0, ::, een multicastadres of een naam.
