# Messages of the `number` area.
