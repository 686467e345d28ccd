# Messages of the `call` area.

## Call status labels (`CallStatus::label`)

call-status-initiating = Connecting
call-status-ringing = Ringing
call-status-connected = Connected
call-status-on-hold = On hold
call-status-disconnected = Ended
call-status-failed = Failed
call-status-busy = Busy
call-status-unavailable = Unavailable
