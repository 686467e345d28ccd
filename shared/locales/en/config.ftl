# Messages of the `config` area.
