# Table IV (authors' protocol), row "2.5D p.": "ACS p." with 1x3x3 (2.5D) convolutions.
_base_ = ['./authors_acs_p_poc3d.py']

model = dict(network=dict(conv_type='2.5d'))
