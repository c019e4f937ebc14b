"""hetfit.disease"""
