"""hetfit.params"""
