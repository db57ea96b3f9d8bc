# Table IV (authors' protocol), row "2.5D r.": "ACS r." with 1x3x3 (2.5D) convolutions.
_base_ = ['./authors_acs_r_poc3d.py']

model = dict(network=dict(conv_type='2.5d'))
