"""Gigs: employers' postings, their index documents and the gig APIs."""
