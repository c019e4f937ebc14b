"""hetfit.measures"""
