"""geocode"""
