"""Map information: shelters, evacuation sites, public facilities, AEDs and garbage days."""
