# Messages of the `errors` area.
# One message per code of the error catalogue (`shared/src/error.rs`).
# The texts need no arguments: they are shown as they are.

## Severities

severity-info = Informatie
severity-warning = Waarschuwing
severity-error = Fout
severity-critical = Kritiek

## Click-to-call and call outcomes

err-configuration-error = De telefonie is niet goed ingesteld. Neem contact op met uw beheerder.
err-network-error = Er is geen verbinding met de telefooncentrale. Controleer de internetverbinding en probeer het opnieuw.
err-provider-error = De telefonieprovider meldt een storing. Probeer het later opnieuw.
err-permission-denied = U mag dit nummer niet bellen.
err-number-invalid = Dit telefoonnummer klopt niet. Controleer het nummer en probeer het opnieuw.
err-destination-blocked = Bellen naar dit nummer is geblokkeerd.
err-trunk-unavailable = Er is op dit moment geen buitenlijn beschikbaar. Probeer het later opnieuw.
err-busy = De gebelde persoon is in gesprek.
err-no-answer = De gebelde persoon neemt niet op.
err-call-rejected = De gebelde persoon heeft het gesprek geweigerd.
err-max-concurrent-calls = Alle lijnen zijn bezet. Probeer het over een paar minuten opnieuw.
err-daily-limit-reached = Het maximale aantal gesprekken voor vandaag is bereikt.
err-call-not-found = Dit gesprek bestaat niet (meer).
err-invalid-state = Dat kan nu niet in dit gesprek.
err-auth-failed = Inloggen bij de telefooncentrale is mislukt. Neem contact op met uw beheerder.
err-rate-limited = Er zijn te veel verzoeken tegelijk. Wacht even en probeer het opnieuw.
err-unsupported = Dit wordt door uw telefooncentrale niet ondersteund.
err-internal-error = Er ging iets mis aan onze kant. Probeer het opnieuw; blijft het misgaan, neem dan contact op met uw beheerder.
err-timeout = Het duurde te lang voordat er antwoord kwam. Probeer het opnieuw.

## Appliance alarms and events (for the installer and the administrator)

err-trunk-register-auth-failed = De provider weigert de inloggegevens van de buitenlijn. Controleer gebruikersnaam en wachtwoord.
err-trunk-register-timeout = De provider reageert niet bij het aanmelden van de buitenlijn.
err-trunk-register-rejected = De provider weigert de aanmelding van de buitenlijn.
err-trunk-unreachable = De server van de provider is niet bereikbaar.
err-trunk-options-timeout = De provider reageert niet op de controleberichten van de buitenlijn.
err-registrar-auth-failed = Een toestel probeerde zich aan te melden met een verkeerd wachtwoord.
err-registrar-source-banned = Een adres is geblokkeerd na te veel mislukte aanmeldpogingen.
err-sip-message-malformed = Er is een onleesbaar bericht ontvangen en genegeerd.
err-sip-transport-tls-failed = Een beveiligde verbinding (TLS) kon niet worden opgezet.
err-media-timeout = Er kwam geen geluid meer binnen; het gesprek is beëindigd.
err-media-no-common-codec = De toestellen hebben geen geluidsformaat gemeen; het gesprek kon niet worden opgezet.
err-media-ports-exhausted = Er zijn geen mediapoorten meer vrij; het gesprek is geweigerd. Vergroot het RTP-poortbereik of verlaag de belasting.
err-media-srtp-failed = De versleuteling van het geluid (SRTP) is mislukt.
err-config-invalid = De nieuwe instellingen bevatten fouten en zijn niet gebruikt.
err-config-apply-failed = De nieuwe instellingen konden niet worden toegepast; de vorige instellingen blijven actief.
err-uplink-disconnected = De centrale heeft geen verbinding met de cloud. Bellen werkt gewoon door.
err-uplink-backlog = De centrale loopt achter met het doorsturen van gegevens naar de cloud.
err-storage-disk-low = De opslag van de centrale is bijna vol.
err-recording-quota-exceeded = De ruimte voor gespreksopnames is vol; nieuwe gesprekken worden niet opgenomen.
err-recording-failed = Een gesprek dat opgenomen moest worden, is niet (volledig) opgenomen.
err-quality-mos-low = De geluidskwaliteit van gesprekken is slecht.
err-emergency-no-trunk = Noodnummer 112 kan niet worden gebeld: er is geen buitenlijn beschikbaar.
err-tls-certificate-expiring = Het beveiligingscertificaat van de centrale verloopt binnenkort.
