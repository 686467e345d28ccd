# Messages of the `quality` area: call quality bands (MOS, ITU-T G.107).
quality-band-excellent = Uitstekend
quality-band-good = Goed
quality-band-fair = Redelijk
quality-band-poor = Matig
quality-band-bad = Slecht
