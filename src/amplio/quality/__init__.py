"""Quality of generated texts: checks for each failure a reviewer rejects, and the gates that
decide which candidates a user is shown (``gates``) and why the others are held back."""
