"""hetfit.inference"""
