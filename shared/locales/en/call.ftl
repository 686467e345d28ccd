# Messages of the `call` area.
