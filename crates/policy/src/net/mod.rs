//! URL and host normalisation and address classification (SSRF defence).
