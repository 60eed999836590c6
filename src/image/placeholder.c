/* placeholder: the image store is being written */
