# Shadow detection in the offline shapes world: the scenes of shapes_segmentation.py lit by one light, every object
# casting a shadow; the target is the visible shadow (binary), which a SAM trained to segment objects has never
# been asked for (the shifted task of the SAM-adapter configs; BER and MAE are reported as in the shadow
# literature). train800 / val200 / test (2,000 images), 64x64.
_base_ = ["./shapes_segmentation.py"]
_shadows = dict(target="shadows", shadows=True)
data = dict(train=_shadows, val=_shadows, test=_shadows)
