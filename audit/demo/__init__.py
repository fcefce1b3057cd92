"""The bundled demos (UCI Adult, labelled tweets) and the training of the bundled sentiment head."""
