# Messages of the `quality` area: call quality bands (MOS, ITU-T G.107).
quality-band-excellent = Excellent
quality-band-good = Good
quality-band-fair = Fair
quality-band-poor = Poor
quality-band-bad = Bad
