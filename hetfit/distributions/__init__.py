"""hetfit.distributions"""
