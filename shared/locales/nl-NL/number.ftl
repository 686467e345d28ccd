# Messages of the `number` area.

## Labels of the number classes call permissions are expressed in
## (voip_shared::number::NumberClass).

number-class-internal = Intern
number-class-emergency = Alarmnummer (112)
number-class-national-fixed = Vast nummer in Nederland
number-class-mobile = Mobiel
number-class-service = Gratis servicenummer (0800)
number-class-premium = Betaalnummer (0900, 0906, 0909)
number-class-international = Internationaal
number-class-invalid = Ongeldig nummer
