# Messages of the `call` area.

## Call status labels (`CallStatus::label`)

call-status-initiating = Verbinding maken
call-status-ringing = Gaat over
call-status-connected = Verbonden
call-status-on-hold = In de wacht
call-status-disconnected = Beëindigd
call-status-failed = Mislukt
call-status-busy = Bezet
call-status-unavailable = Niet bereikbaar
