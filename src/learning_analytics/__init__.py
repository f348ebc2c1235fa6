"""Learning Analytics: the analytics Backend-for-Frontend of a corporate learning platform."""
