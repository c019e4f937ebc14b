"""hetfit.data_adapters"""
