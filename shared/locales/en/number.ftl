# Messages of the `number` area.

## Labels of the number classes call permissions are expressed in
## (voip_shared::number::NumberClass).

number-class-internal = Internal
number-class-emergency = Emergency (112)
number-class-national-fixed = Dutch fixed line
number-class-mobile = Mobile
number-class-service = Freephone (0800)
number-class-premium = Premium rate (0900, 0906, 0909)
number-class-international = International
number-class-invalid = Invalid number
