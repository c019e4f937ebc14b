"""hetfit.reports"""
