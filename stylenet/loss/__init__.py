"""What training and the quality tools measure: the frozen VGG and the perceptual loss terms
(content, Gram-matrix style, total variation), and the loss a trained style's card names."""
