"""The networks: the Johnson et al. transformer (one style or a multi-style table), its fast
layer forms, and the AdaIN encoder-decoder for any painting."""
