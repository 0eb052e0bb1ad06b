"""Face verification (1:1) and identification (1:N) from raw photos.

`quality` gates detected faces, `photos` turns a photo into embeddings (detect, align, embed),
`gallery` enrolls identity folders, `index` searches a gallery, `thresholds` reads decision
thresholds, `cli` holds the options verify.py and identify.py share.
"""
